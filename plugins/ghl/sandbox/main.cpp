// ferry-sandbox-ghl: the GHL sandbox executable, started by `ferry sandbox ghl`.

#include <memory>

#include "ghl_sandbox.hpp"
#include "kit.hpp"

int main(int argc, char** argv) {
  using namespace ferry::plugins::ghl::sandbox;
  std::unique_ptr<GhlSandbox> sandbox;
  ferry::sandbox::MainOptions options;
  options.name = "ghl";
  options.setup = [&sandbox](ferry::sandbox::Server& server,
                             const std::map<std::string, std::string>& extra) {
    sandbox = std::make_unique<GhlSandbox>(parseOptions(extra), server);
    GhlSandbox* raw = sandbox.get();
    return ferry::sandbox::Handler(
        [raw](const ferry::sandbox::Request& r) { return raw->handle(r); });
  };
  options.describe = [&sandbox](const ferry::sandbox::Server&) { return sandbox->describe(); };
  return ferry::sandbox::runMain(argc, argv, options);
}
