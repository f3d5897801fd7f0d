#include "client.hpp"
#include "model.hpp"
#include "operations.hpp"
#include "slate.hpp"

namespace ferry::plugins::umsatzio {

namespace {

using namespace sdk;

constexpr const char* kNoteFields = "id parentId description isPinned createdAt updatedAt";

ResultFn noteAt(std::string path) {
  return [path = std::move(path)](const Json& data, const Json&, Context&) {
    const Json raw = valueAt(data, path);
    if (!raw.is_object()) {
      throw OperationError(ErrorKind::NotFound, "umsatzio.not_found", "Umsatz-io returned no note.");
    }
    return normalizeNote(raw);
  };
}

}  // namespace

std::vector<ActionDecl> noteActions() {
  std::vector<ActionDecl> out;
  const std::string f = kNoteFields;

  auto create = schema::action(
      "umsatzio.note.create", "Add a note to a contact or deal",
      {str("contactId").require().describe("The contact (or deal) id the note is attached to."),
       str("content").describe(
           "The note as plain text; blank lines separate paragraphs, '- ' and '1. ' start list "
           "items, '# ' headings. Converted to Slate."),
       str("description").withFormat("slate").describe(
           "The note as a Slate JSON string, sent as is (instead of content).")},
      noteSchema(), "createNote");
  create.examples = {schema::example(
      "call summary",
      {{"contactId", "ct_1"},
       {"content", "Rückruf am Freitag.\n\n- Preisliste schicken\n- Größe klären"}},
      exampleNote())};
  out.push_back(graphqlAction(
      std::move(create),
      "mutation CreateNote($input: CreateNoteInput!) { createNote(input: $input) { " + f + " } }",
      [](const Json& input, Context&) {
        std::string description;
        if (input.contains("description") && input["description"].is_string()) {
          description = input["description"].get<std::string>();
        } else if (input.contains("content") && input["content"].is_string()) {
          description = plainTextToSlate(input["content"].get<std::string>()).dump();
        } else {
          throw OperationError(ErrorKind::Invalid, "umsatzio.note_empty",
                               "A note needs 'content' (plain text) or 'description' (Slate JSON).");
        }
        return Json{{"input", {{"parentId", input.at("contactId")}, {"description", description}}}};
      },
      noteAt("createNote")));

  Schema listIn = {str("contactId").require().describe("The contact whose notes to list.")};
  for (auto& p : schema::pageInputs()) {
    listIn.push_back(p);
  }
  auto list = schema::action(
      "umsatzio.note.list", "List a contact's notes", listIn,
      {array("items", object("note", noteSchema()).describe("A note."))
           .require()
           .describe("The notes on this page, newest first."),
       schema::paginationOutput()},
      "contactNotes");
  list.examples = {schema::example(
      "notes", {{"contactId", "ct_1"}},
      {{"items", {exampleNote()}}, {"pagination", {{"page", 0}, {"limit", 50}, {"total", 1}}}})};
  out.push_back(graphqlAction(
      std::move(list),
      "query ContactNotes($contactId: ID!, $pagination: PaginationInput!) { "
      "contactNotes(contactId: $contactId, pagination: $pagination) { notes { data { " +
          f + " } pagination { page limit total } } count } }",
      pickPaged({"contactId"}),
      pagedAt("contactNotes.notes", [](const Json& n, Context&) { return normalizeNote(n); })));

  auto pin = schema::action("umsatzio.note.pin", "Pin or unpin a note",
                            {str("noteId").require().describe("The note."),
                             boolean("isPinned").defaults(true).describe("true pins, false unpins.")},
                            noteSchema(), "pinNote");
  Json pinned = exampleNote();
  pinned["isPinned"] = true;
  pin.examples = {schema::example("pin", {{"noteId", "nt_1"}, {"isPinned", true}}, pinned)};
  out.push_back(graphqlAction(std::move(pin),
                              "mutation PinNote($noteId: ID!, $isPinned: Boolean!) { "
                              "pinNote(noteId: $noteId, isPinned: $isPinned) { " + f + " } }",
                              pick({"noteId", "isPinned"}), noteAt("pinNote")));
  return out;
}

}  // namespace ferry::plugins::umsatzio
