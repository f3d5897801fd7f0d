#include "client.hpp"
#include "model.hpp"
#include "operations.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

constexpr const char* kDealFields =
    "id name contactId pipelineId stageId data createdAt updatedAt stage { id name }";

ResultFn dealAt(std::string path) {
  return [path = std::move(path)](const Json& data, const Json&, Context&) {
    const Json raw = valueAt(data, path);
    if (!raw.is_object()) {
      throw OperationError(ErrorKind::NotFound, "umsatzio.not_found", "Umsatz-io returned no deal.");
    }
    return normalizeDeal(raw);
  };
}

Field stageField() {
  return object("stage", {str("id").require().describe("Stage id."),
                          str("name").describe("Stage name."),
                          str("color").describe("Stage colour (hex).")})
      .describe("A stage of a pipeline.");
}

Schema pipelineSchema() {
  return {str("id").require().describe("Pipeline id."), str("name").describe("Pipeline name."),
          integer("dealsTotal").describe("Deals in the pipeline."),
          array("stages", stageField()).describe("The stages, in order.")};
}

Json examplePipeline() {
  return {{"id", "pl_1"},
          {"name", "Vertrieb"},
          {"dealsTotal", 3},
          {"stages",
           {{{"id", "st_1"}, {"name", "Opening"}, {"color", "#8ecae6"}},
            {{"id", "st_2"}, {"name", "Setting terminiert"}, {"color", "#219ebc"}},
            {{"id", "st_3"}, {"name", "Closing"}, {"color", "#023047"}}}}};
}

}  // namespace

std::vector<ActionDecl> dealActions() {
  std::vector<ActionDecl> out;
  const std::string f = kDealFields;

  auto get = schema::action("umsatzio.deal.get", "Get a deal by id",
                            {str("dealId").require().describe("Deal id.")}, dealSchema(), "deal");
  get.examples = {schema::example("a deal", {{"dealId", "dl_1"}}, exampleDeal())};
  out.push_back(graphqlAction(std::move(get),
                              "query Deal($dealId: ID!) { deal(dealId: $dealId) { " + f + " } }",
                              pick({"dealId"}), dealAt("deal")));

  Schema listIn = {str("stageId").require().describe("The stage whose deals to list."),
                   str("query").describe("Free text filter on the deal name.")};
  for (auto& p : schema::pageInputs()) {
    listIn.push_back(p);
  }
  auto list = schema::action(
      "umsatzio.deal.list_by_stage", "List the deals in a stage", listIn,
      {array("items", object("deal", dealSchema()).describe("A deal."))
           .require()
           .describe("The deals on this page."),
       schema::paginationOutput()},
      "deals");
  list.examples = {schema::example(
      "setting stage", {{"stageId", "st_2"}},
      {{"items", {exampleDeal()}}, {"pagination", {{"page", 0}, {"limit", 50}, {"total", 1}}}})};
  out.push_back(graphqlAction(
      std::move(list),
      "query Deals($stageId: ID!, $searchString: String, $pagination: PaginationInput!) { "
      "deals(stageId: $stageId, searchString: $searchString, pagination: $pagination) { data { " +
          f + " } pagination { page limit total } } }",
      [](const Json& input, Context&) {
        Json v = {{"stageId", input.at("stageId")}, {"pagination", pagination(input)}};
        if (input.contains("query") && input["query"].is_string()) {
          v["searchString"] = input["query"];
        }
        return v;
      },
      pagedAt("deals", [](const Json& d, Context&) { return normalizeDeal(d); })));

  auto create = schema::action(
      "umsatzio.deal.create", "Create a deal",
      {str("name").require().describe("Deal name."),
       str("contactId").require().describe("The contact the deal belongs to."),
       str("pipelineId").require().describe("Pipeline id."),
       str("stageId").require().describe("Stage id within the pipeline."),
       object("data", {}).describe("Deal attributes by field API names."),
       boolean("filterUnknownFields").defaults(false).describe(
           "Drop fields Umsatz-io does not know instead of failing.")},
      dealSchema(), "createDeal");
  create.examples = {schema::example("new deal",
                                     {{"name", "Jahresvertrag Bäckerei Groß"},
                                      {"contactId", "ct_1"},
                                      {"pipelineId", "pl_1"},
                                      {"stageId", "st_2"},
                                      {"data", {{"deal_value", 4800}}}},
                                     exampleDeal())};
  out.push_back(graphqlAction(
      std::move(create),
      "mutation CreateDeal($input: CreateDealInput!, $filterUnknownFields: Boolean) { "
      "createDeal(input: $input, filterUnknownFields: $filterUnknownFields) { " +
          f + " } }",
      [](const Json& input, Context&) {
        Json in = {{"name", input.at("name")},
                   {"contactId", input.at("contactId")},
                   {"pipelineId", input.at("pipelineId")},
                   {"stageId", input.at("stageId")},
                   {"data", input.value("data", Json::object())}};
        return Json{{"input", in}, {"filterUnknownFields", input.value("filterUnknownFields", false)}};
      },
      dealAt("createDeal")));

  auto update = schema::action("umsatzio.deal.update", "Change a deal's name or attributes",
                               {str("dealId").require().describe("The deal to change."),
                                str("name").describe("New name."),
                                object("data", {}).describe("Attributes to set, by API names.")},
                               dealSchema(), "updateDeal");
  update.examples = {schema::example("new value", {{"dealId", "dl_1"}, {"data", {{"deal_value", 4800}}}},
                                     exampleDeal())};
  out.push_back(graphqlAction(
      std::move(update),
      "mutation UpdateDeal($input: UpdateDealInput!) { updateDeal(input: $input) { " + f + " } }",
      [](const Json& input, Context&) {
        Json in = {{"id", input.at("dealId")}};
        if (input.contains("name") && !input["name"].is_null()) {
          in["name"] = input["name"];
        }
        if (input.contains("data") && input["data"].is_object()) {
          in["data"] = input["data"];
        }
        return Json{{"input", in}};
      },
      dealAt("updateDeal")));

  auto move = schema::action("umsatzio.deal.change_stage", "Move a deal to a pipeline and stage",
                             {str("dealId").require().describe("The deal to move."),
                              str("pipelineId").require().describe("Target pipeline."),
                              str("stageId").require().describe("Target stage in that pipeline.")},
                             dealSchema(), "changeDealPipeline");
  move.examples = {schema::example("to setting",
                                   {{"dealId", "dl_1"}, {"pipelineId", "pl_1"}, {"stageId", "st_2"}},
                                   exampleDeal())};
  out.push_back(graphqlAction(
      std::move(move),
      "mutation ChangeDealPipeline($input: ChangeDealPipelineInput!) { "
      "changeDealPipeline(input: $input) { " + f + " } }",
      [](const Json& input, Context&) {
        return Json{{"input",
                     {{"id", input.at("dealId")},
                      {"pipelineId", input.at("pipelineId")},
                      {"stageId", input.at("stageId")}}}};
      },
      dealAt("changeDealPipeline")));

  auto pipelines = schema::action(
      "umsatzio.pipeline.list", "List the pipelines and their stages", {},
      {array("items", object("pipeline", pipelineSchema()).describe("A pipeline."))
           .require()
           .describe("Every pipeline.")},
      "pipelines");
  pipelines.examples = {schema::example("all", Json::object(), {{"items", {examplePipeline()}}})};
  out.push_back(graphqlAction(std::move(pipelines),
                              "query Pipelines { pipelines { id name dealsTotal stages { id name "
                              "color } } }",
                              pick({}), wrap("pipelines", "items")));

  auto pipeline = schema::action("umsatzio.pipeline.get", "Get a pipeline with its stages",
                                 {str("pipelineId").require().describe("Pipeline id.")},
                                 pipelineSchema(), "pipeline");
  pipeline.examples = {schema::example("sales", {{"pipelineId", "pl_1"}}, examplePipeline())};
  out.push_back(graphqlAction(std::move(pipeline),
                              "query Pipeline($pipelineId: ID!) { pipeline(pipelineId: $pipelineId) "
                              "{ id name dealsTotal stages { id name color } } }",
                              pick({"pipelineId"}), [](const Json& data, const Json&, Context&) {
                                Json p = valueAt(data, "pipeline");
                                if (!p.is_object()) {
                                  throw OperationError(ErrorKind::NotFound, "umsatzio.not_found",
                                                       "Umsatz-io has no such pipeline.");
                                }
                                return p;
                              }));
  return out;
}

}  // namespace ferry::plugins::umsatzio
