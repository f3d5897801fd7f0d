#pragma once

// The conformance suite every plugin instantiates:
//
//   struct GhlPlugin {
//     static std::shared_ptr<ferry::sdk::Connector> create();   // load or construct it
//   };
//   namespace ferry::sdk::testing {   // gtest needs the suite's own namespace
//   INSTANTIATE_TYPED_TEST_SUITE_P(Ghl, ConnectorConformance, ::testing::Types<GhlPlugin>);
//   }
//
// It checks the declaration only (no network): ids, documentation, examples, scopes, and that
// each declared operation has an implementation of its kind.

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <regex>
#include <set>
#include <string>

#include "ferry/sdk/sdk.hpp"

namespace ferry::sdk::testing {

inline void collectUndocumented(const Schema& schema, const std::string& prefix,
                                std::vector<std::string>& out) {
  for (const Field& f : schema) {
    const std::string path = prefix.empty() ? f.name : prefix + "." + f.name;
    if (f.description.empty()) {
      out.push_back(path);
    }
    collectUndocumented(f.fields, path, out);
    if (f.items) {
      collectUndocumented(f.items->fields, path + "[]", out);
    }
  }
}

template <class Plugin>
class ConnectorConformance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { connector_ = Plugin::create(); }
  static void TearDownTestSuite() { connector_.reset(); }
  const ConnectorSpec& spec() { return connector_->spec(); }
  Connector& connector() { return *connector_; }

  static inline std::shared_ptr<Connector> connector_;
};

TYPED_TEST_SUITE_P(ConnectorConformance);

TYPED_TEST_P(ConnectorConformance, SpecIsWellFormed) {
  const auto& spec = this->spec();
  const std::regex idRe("[a-z][a-z0-9_]*");
  const std::regex opRe("[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*");
  const std::regex semverRe("[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?");
  EXPECT_TRUE(std::regex_match(spec.id, idRe)) << "connector id '" << spec.id << "'";
  EXPECT_TRUE(std::regex_match(spec.version, semverRe)) << "version '" << spec.version << "'";
  EXPECT_FALSE(spec.name.empty());
  EXPECT_FALSE(spec.description.empty());
  EXPECT_FALSE(spec.operations.empty());
  std::set<std::string> ids;
  for (const auto& op : spec.operations) {
    SCOPED_TRACE(op.id);
    EXPECT_TRUE(std::regex_match(op.id, opRe)) << "operation id must be <plugin>.<resource>.<verb>";
    EXPECT_EQ(op.id.substr(0, spec.id.size() + 1), spec.id + ".");
    EXPECT_TRUE(ids.insert(op.id).second) << "duplicate operation id";
    EXPECT_FALSE(op.summary.empty());
    if (op.kind == OperationKind::Action) {
      EXPECT_NE(this->connector().action(op.id), nullptr) << "declared action has no implementation";
    } else {
      EXPECT_NE(this->connector().trigger(op.id), nullptr) << "declared trigger has no implementation";
      EXPECT_NE(op.delivery, Delivery::None) << "a trigger must say how it is delivered";
    }
    for (const auto& scope : op.scopes) {
      bool known = false;
      for (const auto& s : spec.scopes) {
        known = known || s == scope;
      }
      EXPECT_TRUE(known) << "scope '" << scope << "' is not listed in the connector's scopes";
    }
  }
  EXPECT_EQ(this->connector().action("no.such.operation"), nullptr);
  EXPECT_EQ(this->connector().trigger("no.such.operation"), nullptr);
}

TYPED_TEST_P(ConnectorConformance, EveryParamIsDocumented) {
  for (const auto& op : this->spec().operations) {
    std::vector<std::string> missing;
    collectUndocumented(op.input, "", missing);
    collectUndocumented(op.output, "", missing);
    for (const auto& path : missing) {
      ADD_FAILURE() << op.id << ": field '" << path << "' has no description";
    }
  }
  for (const auto& scheme : this->spec().auth) {
    std::vector<std::string> missing;
    collectUndocumented(scheme.settings, "", missing);
    for (const auto& path : missing) {
      ADD_FAILURE() << "auth " << scheme.id << ": setting '" << path << "' has no description";
    }
  }
}

TYPED_TEST_P(ConnectorConformance, EveryExampleIsValid) {
  for (const auto& op : this->spec().operations) {
    SCOPED_TRACE(op.id);
    EXPECT_FALSE(op.examples.empty()) << op.id << " has no example";
    for (const auto& ex : op.examples) {
      for (const auto& issue : validate(op.input, ex.input)) {
        ADD_FAILURE() << op.id << " example '" << ex.title << "' input: " << issue.message;
      }
      for (const auto& issue : validate(op.output, ex.output)) {
        ADD_FAILURE() << op.id << " example '" << ex.title << "' output: " << issue.message;
      }
    }
  }
}

TYPED_TEST_P(ConnectorConformance, RemovingARequiredInputFailsValidation) {
  for (const auto& op : this->spec().operations) {
    for (const auto& ex : op.examples) {
      for (const Field& f : op.input) {
        if (!f.required || f.defaultValue || !ex.input.contains(f.name)) {
          continue;
        }
        Json broken = ex.input;
        broken.erase(f.name);
        const auto issues = validate(op.input, broken);
        bool reported = false;
        for (const auto& issue : issues) {
          reported = reported || (issue.code == "missing" && issue.path == f.name);
        }
        EXPECT_TRUE(reported) << op.id << ": removing '" << f.name << "' was not reported";
      }
    }
  }
}

REGISTER_TYPED_TEST_SUITE_P(ConnectorConformance, SpecIsWellFormed, EveryParamIsDocumented,
                            EveryExampleIsValid, RemovingARequiredInputFailsValidation);

}  // namespace ferry::sdk::testing
