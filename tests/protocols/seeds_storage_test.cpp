// The seeds' durable storage under every fault the file can show: cut at
// every record boundary and inside records, a byte flipped in each region
// (header, a middle record, the last record, the state file), zero-fill,
// another seed's files, a missing file, a new directory. After each: the
// recovered log is a prefix of what was written (never a different entry),
// a torn tail is cut and served, anything else is corruption that keeps the
// verified prefix, a damaged copy aside and makes the seed a learner, and
// files of another seed are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "protocols/common/endpoints.hpp"
#include "protocols/seeds/storage.hpp"

namespace confab::seeds {
namespace {

namespace fs = std::filesystem;

const node_id me = seam::endpoint_id(0x7f000001, 7001);
const node_id other = seam::endpoint_id(0x7f000001, 7002);

struct written {
  std::vector<entry> log;
  hard_state hard;
  std::vector<std::uint64_t> boundaries;  // file size after the header and after each record
  std::vector<std::uint64_t> entries_at;  // entries held at each boundary
};

class store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("confab-storage-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    base = (dir / "seed").string();
  }
  void TearDown() override { fs::remove_all(dir); }

  // Twelve saves of five entries; the state says term 3 and commit 40.
  written write_history() {
    written w;
    auto s = file_store::open(base, me);
    EXPECT_TRUE(s);
    EXPECT_EQ((*s)->report().kind, recovery_report::fresh);
    EXPECT_TRUE((*s)->recovered().hard.learner);
    w.boundaries.push_back(fs::file_size(base + ".raft"));
    w.entries_at.push_back(0);
    for (int batch = 0; batch < 12; ++batch) {
      persist_batch b;
      b.first_index = w.log.size() + 1;
      for (int i = 0; i < 5; ++i) b.entries.push_back({1 + static_cast<std::uint64_t>(batch / 5), entry_kind::add,
                                                       static_cast<node_id>(1000 + batch * 5 + i)});
      if (batch == 9) {
        b.hard_changed = true;
        b.hard = {.term = 3, .voted_for = other, .commit = 40, .learner = false};
        w.hard = b.hard;
      }
      EXPECT_TRUE((*s)->save(b));
      w.log.insert(w.log.end(), b.entries.begin(), b.entries.end());
      w.boundaries.push_back(fs::file_size(base + ".raft"));
      w.entries_at.push_back(w.log.size());
    }
    s->reset();
    original_log = read(base + ".raft");
    original_state = read(base + ".state");
    return w;
  }
  void restore() {
    write(base + ".raft", original_log);
    write(base + ".state", original_state);
  }
  std::vector<char> read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }
  void write(const std::string& path, const std::vector<char>& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(b.data(), static_cast<std::streamsize>(b.size()));
  }
  // Reopens after the files were damaged; checks what every outcome must hold.
  std::unique_ptr<file_store> reopen(const written& w) {
    auto s = file_store::open(base, me);
    EXPECT_TRUE(s) << (s ? "" : s.error().text);
    if (!s) return nullptr;
    const auto st = (*s)->recovered();
    EXPECT_LE(st.log.size(), w.log.size());
    for (std::size_t i = 0; i < st.log.size() && i < w.log.size(); ++i) EXPECT_EQ(st.log[i], w.log[i]) << "entry " << i + 1;
    const auto kind = (*s)->report().kind;
    if (kind == recovery_report::corrupt || kind == recovery_report::fresh) {
      EXPECT_TRUE(st.hard.learner);
    }
    // Entries a state file called committed are never silently missing.
    if (st.log.size() < w.hard.commit) {
      EXPECT_TRUE(st.hard.learner) << (*s)->report().text;
    }
    EXPECT_FALSE((*s)->report().text.empty());
    return std::move(*s);
  }

  fs::path dir;
  std::string base;
  std::vector<char> original_log, original_state;
};

TEST_F(store_test, a_new_directory_starts_a_learner_and_saves_survive_reopen) {
  const auto w = write_history();
  auto s = reopen(w);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->report().kind, recovery_report::clean);
  EXPECT_EQ(s->recovered().log, w.log);
  EXPECT_EQ(s->recovered().hard, w.hard);
  // A truncation record replaces a conflicting suffix.
  persist_batch t;
  t.truncate_after = 58;
  t.first_index = 59;
  t.entries = {{4, entry_kind::remove, 1001}};
  ASSERT_TRUE(s->save(t));
  s.reset();
  auto again = file_store::open(base, me);
  ASSERT_TRUE(again);
  ASSERT_EQ((*again)->recovered().log.size(), 59u);
  EXPECT_EQ((*again)->recovered().log.back(), (entry{4, entry_kind::remove, 1001}));
}

TEST_F(store_test, cut_at_every_record_boundary_and_inside_every_record) {
  const auto w = write_history();
  const auto log = read(base + ".raft");
  for (std::uint64_t cut = 0; cut < log.size(); ++cut) {
    write(base + ".raft", std::vector<char>(log.begin(), log.begin() + static_cast<long>(cut)));
    auto s = reopen(w);
    ASSERT_TRUE(s) << "cut at " << cut;
    // The prefix of whole records before the cut survives, nothing more.
    std::size_t whole = 0;
    for (std::size_t b = 0; b < w.boundaries.size(); ++b)
      if (w.boundaries[b] <= cut) whole = w.entries_at[b];
    const auto got = s->recovered().log.size();
    EXPECT_EQ(got, cut < w.boundaries[0] ? 0u : whole) << "cut at " << cut << ": " << s->report().text;
    const bool on_boundary = std::find(w.boundaries.begin(), w.boundaries.end(), cut) != w.boundaries.end();
    if (whole < w.hard.commit || cut < w.boundaries[0])
      EXPECT_EQ(s->report().kind, recovery_report::corrupt) << "cut at " << cut << ": " << s->report().text;
    else if (on_boundary)
      EXPECT_EQ(s->report().kind, recovery_report::clean) << "cut at " << cut;
    else
      EXPECT_EQ(s->report().kind, recovery_report::torn_tail) << "cut at " << cut;
    if (HasFailure()) return;
    s.reset();
    restore();
  }
}

TEST_F(store_test, a_flipped_byte_in_each_region) {
  const auto w = write_history();
  const auto log = read(base + ".raft"), state = read(base + ".state");
  struct region {
    const char* name;
    std::uint64_t at;
    recovery_report::kind_t expect;
    std::size_t kept;
  };
  const auto mid = w.boundaries[5] + 9;  // inside the sixth record
  const std::vector<region> regions = {
      {"header", 3, recovery_report::corrupt, 0},
      {"header identity", 20, recovery_report::corrupt, 0},
      {"a middle record", mid, recovery_report::corrupt, w.entries_at[5]},
      // The last record may be a torn append, but it held entries the state
      // calls committed? No: commit 40 < 55, so a torn tail.
      {"the last record", w.boundaries[11] + 9, recovery_report::torn_tail, w.entries_at[11]},
  };
  for (const auto& r : regions) {
    auto damaged = log;
    damaged[r.at] = static_cast<char>(damaged[r.at] ^ 0x20);
    write(base + ".raft", damaged);
    write(base + ".state", state);
    auto s = reopen(w);
    ASSERT_TRUE(s) << r.name;
    EXPECT_EQ(s->report().kind, r.expect) << r.name << ": " << s->report().text;
    EXPECT_EQ(s->recovered().log.size(), r.kept) << r.name;
    if (r.expect == recovery_report::corrupt) {
      EXPECT_TRUE(fs::exists(s->report().kept_aside)) << r.name;
      EXPECT_EQ(read(s->report().kept_aside), damaged) << r.name << ": the damaged copy is the file as found";
      EXPECT_NE(s->report().text.find(std::to_string(r.at < 32 ? 0 : w.boundaries[5])), std::string::npos)
          << r.name << ": the report names the offset: " << s->report().text;
      fs::remove(s->report().kept_aside);
    }
    // The store appends after what it kept, and a reopen finds it clean.
    persist_batch more;
    more.first_index = s->recovered().log.size() + 1;
    more.entries = {{9, entry_kind::add, 4242}};
    ASSERT_TRUE(s->save(more));
    s.reset();
    auto again = file_store::open(base, me);
    ASSERT_TRUE(again);
    EXPECT_NE((*again)->report().kind, recovery_report::corrupt) << r.name << ": " << (*again)->report().text;
    EXPECT_EQ((*again)->recovered().log.size(), r.kept + 1) << r.name;
    EXPECT_EQ((*again)->recovered().hard.learner, r.expect == recovery_report::corrupt) << r.name << ": learner saved";
    (*again).reset();
    restore();
  }
  // The state file: term and vote are unknown, the term is at least the
  // last entry's and no vote is given in it.
  for (std::size_t at : {0u, 30u, 63u}) {
    auto damaged = state;
    damaged[at] = static_cast<char>(damaged[at] ^ 1);
    write(base + ".state", damaged);
    auto s = reopen(w);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->report().kind, recovery_report::corrupt) << s->report().text;
    EXPECT_NE(s->report().text.find(".state is damaged"), std::string::npos) << s->report().text;
    EXPECT_EQ(s->recovered().log, w.log);
    EXPECT_EQ(s->recovered().hard.term, w.log.back().term);
    EXPECT_EQ(s->recovered().hard.vote_floor, w.log.back().term);
    EXPECT_TRUE(s->recovered().hard.learner);
    s.reset();
    restore();
  }
}

TEST_F(store_test, zero_fill_missing_files_and_another_seeds_files) {
  const auto w = write_history();
  const auto log = read(base + ".raft"), state = read(base + ".state");
  write(base + ".raft", std::vector<char>(log.size(), 0));
  {
    auto s = reopen(w);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->report().kind, recovery_report::corrupt);
    EXPECT_TRUE(s->recovered().log.empty());
    EXPECT_EQ(s->recovered().hard.term, 3u) << "the state file still knows the term";
  }
  write(base + ".raft", log);
  write(base + ".state", std::vector<char>(state.size(), 0));
  {
    auto s = reopen(w);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->report().kind, recovery_report::corrupt);
  }
  write(base + ".raft", log);
  fs::remove(base + ".state");
  {
    auto s = reopen(w);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->report().kind, recovery_report::corrupt);
    EXPECT_NE(s->report().text.find("missing"), std::string::npos) << s->report().text;
  }
  write(base + ".state", state);
  fs::remove(base + ".raft");
  {
    auto s = reopen(w);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->report().kind, recovery_report::corrupt) << s->report().text;
    EXPECT_TRUE(s->recovered().log.empty());
  }
  // Another seed's files are refused, not repaired.
  write(base + ".raft", log);
  write(base + ".state", state);
  auto theirs = file_store::open(base, other);
  ASSERT_FALSE(theirs);
  EXPECT_NE(theirs.error().text.find("belongs to seed 127.0.0.1:7001, not to 127.0.0.1:7002"), std::string::npos)
      << theirs.error().text;
  fs::remove(base + ".state");
  theirs = file_store::open(base, other);
  ASSERT_FALSE(theirs);
  EXPECT_NE(theirs.error().text.find(".raft belongs to seed"), std::string::npos) << theirs.error().text;
}

}  // namespace
}  // namespace confab::seeds
