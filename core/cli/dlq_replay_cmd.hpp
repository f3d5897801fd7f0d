#pragma once

#include "cli/cli.hpp"

namespace ferry::core::cli {

// `ferry dlq replay <event>... [--all] [--force]`: replays dead letters, except stale snapshot
// versions (Store::replayDeadLetterGuarded), which are settled as superseded. Added to the `dlq`
// group made by addHistoryCommands.
void addDlqReplayCommand(Cli& cli, CLI::App* dlq);

}  // namespace ferry::core::cli
