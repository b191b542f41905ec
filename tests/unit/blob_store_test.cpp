#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "storage/blob_store.h"
#include "tests/support/test_node.h"

namespace pacs {
namespace fs = std::filesystem;

Uid uid(const char* text) {
  return *Uid::parse(text);
}

TEST(BlobStore, PlacesAFileUnderItsStudyAndSeries) {
  testing::TempDir dir;
  auto store = BlobStore::open(dir.path());
  ASSERT_TRUE(store);
  TempFile temp = (*store)->new_temp_file();
  std::ofstream(temp.path()) << "data";
  auto placed = (*store)->place(temp, uid("1.2.3"), uid("1.2.3.4"), uid("1.2.3.4.5"));
  ASSERT_TRUE(placed);
  EXPECT_EQ(placed->rfind("objects/1.2.3/1.2.3.4/1.2.3.4.5.", 0), 0u) << *placed;
  ASSERT_TRUE((*store)->sync_file(*placed));
  ASSERT_TRUE((*store)->sync_directory_of(*placed));
  std::ifstream in((*store)->absolute(*placed));
  std::string content;
  in >> content;
  EXPECT_EQ(content, "data");
  EXPECT_FALSE(fs::exists(temp.path()));
}

TEST(BlobStore, TwoPlacementsOfOneSopInstanceNeverShareAFile) {
  testing::TempDir dir;
  auto store = std::move(*BlobStore::open(dir.path()));
  TempFile a = store->new_temp_file(), b = store->new_temp_file();
  std::ofstream(a.path()) << "a";
  std::ofstream(b.path()) << "b";
  auto pa = store->place(a, uid("1.2"), uid("1.3"), uid("1.4"));
  auto pb = store->place(b, uid("1.2"), uid("1.3"), uid("1.4"));
  ASSERT_TRUE(pa && pb);
  EXPECT_NE(*pa, *pb);
}

TEST(BlobStore, AnUnusedTempFileIsRemoved) {
  testing::TempDir dir;
  auto store = std::move(*BlobStore::open(dir.path()));
  fs::path path;
  {
    TempFile temp = store->new_temp_file();
    path = temp.path();
    std::ofstream(path) << "partial";
    ASSERT_TRUE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(BlobStore, OpeningRemovesTempFilesOfDeadProcessesButNotOfLiveOnes) {
  testing::TempDir dir;
  fs::create_directories(dir.path() / "tmp");
  const auto dead = dir.path() / "tmp" / "999999999-x-1.part";  // no such pid
  const auto live = dir.path() / "tmp" / (std::to_string(::getpid()) + "-x-1.part");
  std::ofstream(dead) << "x";
  std::ofstream(live) << "x";
  ASSERT_TRUE(BlobStore::open(dir.path()));
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
}

TEST(BlobStore, AnUnwritableRootIsAClearError) {
  if (::geteuid() == 0) {
    // root writes anywhere; a path under a regular file fails for everyone.
    testing::TempDir dir;
    std::ofstream(dir.path() / "file") << "x";
    auto store = BlobStore::open(dir.path() / "file" / "data");
    ASSERT_FALSE(store);
    EXPECT_NE(store.error().message.find("cannot create"), std::string::npos);
    return;
  }
  auto store = BlobStore::open("/proc/pacsnode-cannot-write-here");
  EXPECT_FALSE(store);
}

}  // namespace pacs
