// The web UI's files as the node serves them (built into the binary), to anyone (they hold no
// patient data) while the APIs behind them keep asking for credentials; the viewer launch URL and
// its hand-off to an external viewer. The UI itself is driven in a browser by tests/browser.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "security/secrets.h"
#include "tests/support/dicom_files.h"
#include "tests/support/http.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;
using testing::TestNode;

const fs::path kWebRoot = fs::path(PACSNODE_SOURCE_DIR) / "web";

TEST(UiTest, EveryFileOfTheUiIsServedAsBuiltToAnyoneAndTheApisStillNeedAToken) {
  TestNode node({.db = "sqlite",
                 .extra_flags = {"--api-token", "ui:read:" + security::hash_token("ui-token")}});
  node.start();
  auto get = [&](const std::string& path, std::vector<std::string> headers = {}) {
    return testing::http_request(node.http_port(), "GET", path, headers);
  };
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kWebRoot)) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = fs::relative(entry.path(), kWebRoot).generic_string();
    if (relative.front() == '.') continue;
    SCOPED_TRACE(relative);
    ++files;
    const auto answer = get("/ui/" + relative);
    EXPECT_EQ(answer.status, 200) << answer.body;
    EXPECT_TRUE(answer.body == testing::read_all(entry.path())) << "not the file as built";
    if (relative.ends_with(".js") || relative.ends_with(".mjs")) {
      EXPECT_EQ(answer.header("content-type"), "text/javascript; charset=utf-8");
    }
  }
  ASSERT_GT(files, 0u) << "no UI files under " << kWebRoot;
  const std::string page = testing::read_all(kWebRoot / "index.html");
  for (const char* path : {"/ui", "/ui/", "/ui/viewer?accession=A1", "/ui/viewer?study=1.2.3"}) {
    SCOPED_TRACE(path);
    const auto answer = get(path);
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(answer.header("content-type"), "text/html; charset=utf-8");
    EXPECT_TRUE(answer.body == page);
    EXPECT_FALSE(answer.header("content-security-policy").empty());
  }
  // Only files of the UI: no way out of its root, no hidden files, no writes. (404 from the UI,
  // or 401 where a client's path normalisation took the request out of /ui.)
  for (const char* path : {"/ui/../README.md", "/ui/%2e%2e/README.md", "/ui/.git/config",
                           "/ui/no-such-file.js", "/ui//etc/passwd"})
    EXPECT_NE(get(path).status, 200) << path;
  EXPECT_EQ(testing::http_request(node.http_port(), "POST", "/ui/index.html", {}).status, 405);
  // What the UI asks for still needs the token.
  EXPECT_EQ(get("/dicom-web/studies").status, 401);
  EXPECT_EQ(get("/dicom-web/studies", {"Authorization: Bearer ui-token"}).status, 200)
      << node.log();
}

TEST(UiTest, TheViewerLaunchUrlHandsOffToAnExternalViewerWhenOneIsConfigured) {
  TestNode node({.db = "sqlite",
                 .extra_flags = {"--external-viewer",
                                 "https://viewer.test/viewer?StudyInstanceUIDs={study}&an={"
                                 "accession}&pid={patient}"}});
  node.start();
  const auto answer = testing::http_request(node.http_port(), "GET",
                                            "/ui/viewer?study=1.2.840.99&accession=A%26B%201", {});
  EXPECT_EQ(answer.status, 302);
  EXPECT_EQ(answer.header("location"),
            "https://viewer.test/viewer?StudyInstanceUIDs=1.2.840.99&an=A%26B%201&pid=");
}

}  // namespace
}  // namespace pacs
