// ferry runs (run history) and ferry dlq (dead letters): read and act on the store.
#include <ctime>
#include <iomanip>
#include <iostream>

#include "cli/cli.hpp"
#include "cli/dlq_replay_cmd.hpp"
#include "cli/runtime_setup.hpp"

namespace ferry::core::cli {

namespace {

using sdk::Json;

std::string isoTime(store::TimeUs us) {
  if (us == 0) {
    return "-";
  }
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>((us / 1000) % 1000));
  return std::string(buf) + ms;
}

Json runToJson(const store::Run& r) {
  Json j = {{"id", r.id},           {"event_id", r.eventId},         {"flow", r.flowId},
            {"flow_version", r.flowVersion}, {"flow_hash", r.flowHash}, {"worker", r.workerId},
            {"attempt", r.attempt}, {"status", r.status},             {"error", r.error},
            {"started_at", isoTime(r.startedAt)}, {"finished_at", isoTime(r.finishedAt)}};
  Json steps = Json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"step", s.stepId},
                     {"status", s.status},
                     {"attempts", s.attempts},
                     {"started_at", isoTime(s.startedAt)},
                     {"finished_at", isoTime(s.finishedAt)},
                     {"ms", s.finishedAt > s.startedAt && s.startedAt > 0
                                ? (s.finishedAt - s.startedAt) / 1000
                                : 0},
                     {"request", s.request},
                     {"response", s.response},
                     {"error", s.error}});
  }
  j["steps"] = steps;
  return j;
}

Json deadToJson(const store::DeadLetter& d) {
  return {{"event_id", d.eventId}, {"flow", d.flowId},         {"trigger", d.triggerOp},
          {"record", d.recordKey}, {"reason", d.reason},       {"attempts", d.attempts},
          {"dead_at", isoTime(d.deadAt)}, {"request", d.request}, {"response", d.response}};
}

struct StoreOptions {
  std::string config = "ferry.yaml";
  std::string store;
  bool json = false;
};

void addStoreOptions(CLI::App* cmd, StoreOptions& o) {
  cmd->add_option("--config,-c", o.config, "The config file naming the store")
      ->capture_default_str();
  cmd->add_option("--store", o.store, "A store URL (instead of the config's)");
  cmd->add_flag("--json", o.json, "Print JSON");
}

}  // namespace

void addHistoryCommands(Cli& cli) {
  // ---- ferry runs ----
  auto* runs = cli.app.add_subcommand("runs", "Run history: what ran, step by step");
  runs->require_subcommand(1);

  struct ListOptions : StoreOptions {
    std::string flow;
    std::string status;
    int limit = 20;
  };
  auto list = std::make_shared<ListOptions>();
  auto* listCmd = runs->add_subcommand("list", "List recent runs, newest first");
  addStoreOptions(listCmd, *list);
  listCmd->add_option("--flow", list->flow, "Only this flow's runs");
  listCmd->add_option("--status", list->status, "Only runs with this status (done, retry, dead)");
  listCmd->add_option("--limit", list->limit, "How many")->check(CLI::Range(1, 10000));
  listCmd->callback([&cli, list] {
    auto store = openStore(list->config, list->store, cli);
    if (!store) {
      return;
    }
    store::RunFilter filter;
    filter.flowId = list->flow;
    filter.status = list->status;
    filter.limit = list->limit;
    const auto found = store->listRuns(filter);
    if (list->json) {
      Json out = Json::array();
      for (const auto& r : found) {
        auto j = runToJson(r);
        j.erase("steps");
        out.push_back(j);
      }
      std::cout << Json{{"runs", out}}.dump(2) << "\n";
      return;
    }
    std::cout << std::left << std::setw(8) << "RUN" << std::setw(8) << "EVENT" << std::setw(22)
              << "FLOW" << std::setw(9) << "STATUS" << std::setw(8) << "ATTEMPT"
              << "STARTED                   ERROR\n";
    for (const auto& r : found) {
      std::cout << std::left << std::setw(8) << r.id << std::setw(8) << r.eventId
                << std::setw(22) << r.flowId << std::setw(9) << r.status << std::setw(8)
                << r.attempt << std::setw(26) << isoTime(r.startedAt) << r.error << "\n";
    }
  });

  struct ShowOptions : StoreOptions {
    long long id = 0;
  };
  auto show = std::make_shared<ShowOptions>();
  auto* showCmd = runs->add_subcommand("show", "Show one run with each step's request and response");
  addStoreOptions(showCmd, *show);
  showCmd->add_option("id", show->id, "The run id")->required();
  showCmd->callback([&cli, show] {
    auto store = openStore(show->config, show->store, cli);
    if (!store) {
      return;
    }
    const auto run = store->getRun(show->id);
    if (!run) {
      printError("run " + std::to_string(show->id), "not_found", "no such run",
                 "ferry runs list shows the recent ones");
      cli.exitCode = kInvalid;
      return;
    }
    const auto j = runToJson(*run);
    if (show->json) {
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << "Run " << run->id << " of flow '" << run->flowId << "' (version "
              << run->flowVersion << ", " << run->flowHash.substr(0, 12) << ") on event "
              << run->eventId << ", attempt " << run->attempt << ": " << run->status << "\n";
    if (!run->error.empty()) {
      std::cout << "  error: " << run->error << "\n";
    }
    for (const auto& s : j["steps"]) {
      std::cout << "\n  step " << s["step"].get<std::string>() << ": "
                << s["status"].get<std::string>() << " (" << s["ms"] << " ms, attempt "
                << s["attempts"] << ")\n";
      if (!s["error"].get<std::string>().empty()) {
        std::cout << "    error:    " << s["error"].get<std::string>() << "\n";
      }
      if (!s["request"].is_null()) {
        std::cout << "    request:  " << s["request"].dump() << "\n";
      }
      if (!s["response"].is_null()) {
        std::cout << "    response: " << s["response"].dump() << "\n";
      }
    }
  });

  // ---- ferry dlq ----
  auto* dlq = cli.app.add_subcommand("dlq", "Dead letters: inspect, replay, discard");
  dlq->require_subcommand(1);
  auto dlqList = std::make_shared<StoreOptions>();
  auto* dlqListCmd = dlq->add_subcommand("list", "List dead letters");
  addStoreOptions(dlqListCmd, *dlqList);
  dlqListCmd->callback([&cli, dlqList] {
    auto store = openStore(dlqList->config, dlqList->store, cli);
    if (!store) {
      return;
    }
    const auto letters = store->listDeadLetters(1000);
    if (dlqList->json) {
      Json out = Json::array();
      for (const auto& d : letters) {
        out.push_back(deadToJson(d));
      }
      std::cout << Json{{"dead_letters", out}}.dump(2) << "\n";
      return;
    }
    std::cout << std::left << std::setw(8) << "EVENT" << std::setw(22) << "FLOW" << std::setw(26)
              << "DEAD AT" << "REASON\n";
    for (const auto& d : letters) {
      std::cout << std::left << std::setw(8) << d.eventId << std::setw(22) << d.flowId
                << std::setw(26) << isoTime(d.deadAt) << d.reason << "\n";
    }
  });

  struct IdOptions : StoreOptions {
    long long id = 0;
  };
  auto addIdCommand = [&cli, dlq](const char* name, const char* help,
                                  std::function<void(store::Store&, IdOptions&, Cli&)> fn) {
    auto o = std::make_shared<IdOptions>();
    auto* cmd = dlq->add_subcommand(name, help);
    addStoreOptions(cmd, *o);
    cmd->add_option("event", o->id, "The dead event's id")->required();
    cmd->callback([&cli, o, fn] {
      auto store = openStore(o->config, o->store, cli);
      if (!store) {
        return;
      }
      if (!store->getDeadLetter(o->id)) {
        printError("event " + std::to_string(o->id), "not_found", "no dead letter with this id",
                   "ferry dlq list shows them");
        cli.exitCode = kInvalid;
        return;
      }
      fn(*store, *o, cli);
    });
  };
  addIdCommand("show", "Show a dead letter with its request and response",
               [](store::Store& s, IdOptions& o, Cli&) {
                 const auto d = s.getDeadLetter(o.id);
                 std::cout << deadToJson(*d).dump(2) << "\n";
               });
  addDlqReplayCommand(cli, dlq);  // dlq_replay_cmd.cpp: stale snapshot versions are superseded
  addIdCommand("discard", "Drop a dead letter for good",
               [](store::Store& s, IdOptions& o, Cli&) {
                 s.discardDeadLetter(o.id);
                 std::cout << "Event " << o.id << " is discarded.\n";
               });
}

}  // namespace ferry::core::cli
