// How many contact-sync records the mapping engine maps per second on one core: the `with:` of
// the contact-sync upsert step (e-mail, names, E.164 phone, company), plus its `when:`, compiled
// once and evaluated per event, as the runtime does. Goal: over 1M records/s/core.
#include <benchmark/benchmark.h>

#include "flow/flow.hpp"

namespace {

using namespace ferry::core::flow;

const char* kFlow = R"(version: 1
id: contact-sync
trigger:
  use: umsatzio.contact.updated
  connection: umsatzio
steps:
  - id: upsert
    use: ghl.contact.upsert
    connection: ghl
    when: ${event.email != null || event.phone != null}
    with:
      email: ${email(event.email)}
      firstName: ${title(trim(event.firstName))}
      lastName: ${title(trim(event.lastName))}
      phone: ${e164(event.phone, 'DE')}
      companyName: ${trim(event.company)}
      source: Umsatz-io
)";

const Flow& flow() {
  static const Flow f = [] {
    std::vector<Diagnostic> diags;
    auto parsed = parseFlow(kFlow, "bench", diags);
    if (!parsed || !diags.empty()) {
      std::abort();
    }
    return std::move(*parsed);
  }();
  return f;
}

Json event(int i) {
  return {{"id", std::to_string(4711 + i)},
          {"email", " Anna.Schmidt" + std::to_string(i) + "@Example.DE "},
          {"firstName", "anna"},
          {"lastName", "SCHMIDT"},
          {"phone", "+49 (0) 171 123 45 " + std::to_string(10 + i % 90)},
          {"company", "Schmidt Solar GmbH "},
          {"data", {{"global_contact_email", "anna@example.de"}}},
          {"createdAt", "2026-11-20T08:15:00Z"},
          {"updatedAt", "2026-11-26T09:00:00Z"}};
}

void BM_ContactSyncMapping(benchmark::State& state) {
  const auto& step = flow().steps[0];
  std::vector<Json> events;
  for (int i = 0; i < 64; ++i) {
    events.push_back(event(i));
  }
  const Json steps = Json::object();
  std::size_t i = 0;
  for (auto _ : state) {
    EvalEnv env{&events[i++ & 63], &steps, nullptr, std::chrono::system_clock::time_point{}};
    if (truthy(evaluate(*step.when, env))) {
      Json inputs = evaluate(step.with, env);
      benchmark::DoNotOptimize(inputs);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ContactSyncMapping);

void BM_CompileContactSync(benchmark::State& state) {
  for (auto _ : state) {
    std::vector<Diagnostic> diags;
    auto f = parseFlow(kFlow, "bench", diags);
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_CompileContactSync);

}  // namespace

BENCHMARK_MAIN();
