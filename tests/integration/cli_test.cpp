// The command line: import, and the one-line errors a misconfigured node gives.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "tests/support/dicom_files.h"
#include "tests/support/process.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> serve_args(const fs::path& data, int port,
                                    std::vector<std::string> more = {}) {
  std::vector<std::string> argv = {testing::pacsnode_binary(),
                                   "serve",
                                   "--data-dir",
                                   data.string(),
                                   "--dimse-port",
                                   std::to_string(port),
                                   "--http-port",
                                   std::to_string(testing::free_port())};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

TEST(Cli, ImportStoresGoodFilesReportsBadOnesAndCountsDuplicates) {
  testing::TempDir dir;
  const auto corpus = dir.path() / "corpus";
  const auto files =
      testing::generate_corpus(corpus, {"--patients", "2", "--studies", "1", "--series", "1",
                                        "--instances", "3", "--rows", "64", "--columns", "64"});
  std::ofstream(corpus / "notes.txt") << "not DICOM";
  testing::write_all(corpus / "truncated.dcm", testing::read_all(files[0]).substr(0, 2000));
  // A bare dataset without a meta header is accepted and given one.
  testing::write_all(dir.path() / "bare.dcm",
                     testing::dataset_bytes(testing::generate_corpus(
                         dir.path() / "other", {"--patients", "1", "--studies", "1", "--series",
                                                "1", "--instances", "1", "--seed", "5"})[0]));
  const auto data = dir.path() / "data";
  auto first =
      testing::run({testing::pacsnode_binary(), "import", "--data-dir", data.string(),
                    corpus.string(), (dir.path() / "bare.dcm").string(), files[0].string()});
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("import: 10 files"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("7 stored"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("1 identical re-sends"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("2 rejected"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("notes.txt"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("truncated.dcm"), std::string::npos) << first.output;

  auto index = Index::open("sqlite", data);
  ASSERT_TRUE(index);
  EXPECT_EQ((*index)->counts()->instances, 7);
  // Each stored file is a Part 10 file, the bare dataset included.
  const auto rows = (*index)->all_instances().value();
  for (const auto& row : rows) EXPECT_NO_THROW(testing::dataset_bytes(data / row.relative_path));
}

TEST(Cli, AMissingImportPathIsReportedAndTheRestImported) {
  testing::TempDir dir;
  const auto files = testing::generate_corpus(
      dir.path() / "c", {"--patients", "1", "--studies", "1", "--series", "1", "--instances", "1"});
  auto r =
      testing::run({testing::pacsnode_binary(), "import", "--data-dir", (dir.path() / "d").string(),
                    (dir.path() / "nowhere").string(), files[0].string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("nowhere: no such file or folder"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 stored"), std::string::npos) << r.output;
}

TEST(Cli, APortInUseIsAOneLineError) {
  testing::TempDir dir;
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t length = sizeof addr;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(s, 1), 0);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &length);
  auto r = testing::run(serve_args(dir.path(), ntohs(addr.sin_port)), std::chrono::seconds(20));
  ::close(s);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("ERROR DIMSE port " + std::to_string(ntohs(addr.sin_port)) + ": "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("in use"), std::string::npos) << r.output;
}

TEST(Cli, AnUnwritableDataDirIsAOneLineError) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  auto r = testing::run(serve_args(dir.path() / "file" / "data", testing::free_port()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("ERROR cannot create"), std::string::npos) << r.output;
}

TEST(Cli, AnUnreachableDatabaseIsAOneLineError) {
  testing::TempDir dir;
  const int closed_port = testing::free_port();
  auto r = testing::run(
      serve_args(dir.path(), testing::free_port(),
                 {"--db", "postgresql://pacs@127.0.0.1:" + std::to_string(closed_port) + "/pacs"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("ERROR cannot open index postgresql://pacs@127.0.0.1"), std::string::npos)
      << r.output;
}

TEST(Cli, ABadFlagOrConfigIsAOneLineError) {
  testing::TempDir dir;
  auto flag = testing::run({testing::pacsnode_binary(), "serve", "--dimse-port", "0"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_EQ(flag.output, "pacsnode: --dimse-port: '0' is not a port (1-65535)\n");
  auto missing = testing::run(
      {testing::pacsnode_binary(), "serve", "--config", (dir.path() / "none.toml").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("none.toml"), std::string::npos) << missing.output;
}

TEST(Cli, ServeHelpListsEveryFlag) {
  auto r = testing::run({testing::pacsnode_binary(), "serve", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--config", "--data-dir", "--aet", "--dimse-port", "--http-port",
                           "--mllp-port", "--db", "--peer"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
}

TEST(Cli, SigtermStopsTheNodeCleanly) {
  testing::TestNode node({.db = "sqlite", .extra_flags = {}});
  node.start();
  EXPECT_EQ(node.stop(), 0) << node.log();
  EXPECT_FALSE(fs::exists(node.data_dir() / "pacsnode.running"));
  EXPECT_NE(node.log().find("pacsnode stopped"), std::string::npos);
}

TEST(Cli, CheckConfigRefusesWhatServeWouldAndSumsUpTheRest) {
  auto open_http =
      testing::run({testing::pacsnode_binary(), "check-config", "--http-address", "0.0.0.0"});
  EXPECT_EQ(open_http.exit_code, 2);
  EXPECT_NE(open_http.output.find("refusing to serve HTTP on 0.0.0.0 without authentication"),
            std::string::npos)
      << open_http.output;
  auto no_certificate = testing::run({testing::pacsnode_binary(), "check-config", "--dimse-tls"});
  EXPECT_EQ(no_certificate.exit_code, 2);
  EXPECT_NE(no_certificate.output.find("TLS needs a certificate"), std::string::npos);
  auto missing_jwks =
      testing::run({testing::pacsnode_binary(), "check-config", "--jwt-issuer", "https://idp.test",
                    "--jwt-audience", "pacsnode", "--jwks-file", "/nonexistent/jwks.json"});
  EXPECT_EQ(missing_jwks.exit_code, 2);
  EXPECT_NE(missing_jwks.output.find("cannot be read"), std::string::npos) << missing_jwks.output;
  auto fine = testing::run({testing::pacsnode_binary(), "check-config", "--ae-permission",
                            "CT1=echo,store", "--peer", "ARCHIVE=127.0.0.1:104"});
  EXPECT_EQ(fine.exit_code, 0) << fine.output;
  EXPECT_NE(fine.output.find("config OK"), std::string::npos);
  EXPECT_NE(fine.output.find("1 AE permissions"), std::string::npos) << fine.output;
}

TEST(Cli, StartedAsRootTheNodeRunsAsTheGivenUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  testing::TempDir dir;
  // The user must reach its data directory: the test's folder is opened to it.
  fs::permissions(dir.path(),
                  fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const auto data = dir.path() / "data";
  const int port = testing::free_port();
  testing::Background node(serve_args(data, port, {"--run-as", "nobody", "--mllp-port", "0"}),
                           (dir.path() / "node.log").string());
  for (int i = 0; i < 200 && !testing::port_accepts(port); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(testing::port_accepts(port)) << testing::read_all(dir.path() / "node.log");
  std::ifstream status("/proc/" + std::to_string(node.pid()) + "/status");
  std::string line, uids;
  while (std::getline(status, line))
    if (line.rfind("Uid:", 0) == 0) uids = line;
  EXPECT_EQ(uids.find(" 0"), std::string::npos) << "no root id left: " << uids;
  EXPECT_NE(uids.find("65534"), std::string::npos) << uids;
  const auto files = testing::generate_corpus(
      dir.path() / "corpus", {"--patients", "1", "--studies", "1", "--series", "1", "--instances",
                              "1", "--rows", "16", "--columns", "16"});
  EXPECT_EQ(testing::storescu(port, {files[0].string()}).exit_code, 0);
  EXPECT_EQ(node.stop(), 0);
  for (const auto& stored : testing::files_below(data / "objects")) {
    struct stat info {};
    ASSERT_EQ(::stat(stored.c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 65534u) << stored;
  }
  auto refused = testing::run({testing::pacsnode_binary(), "serve", "--run-as", "no-such-user"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.output.find("no user 'no-such-user'"), std::string::npos);
}

}  // namespace
}  // namespace pacs
