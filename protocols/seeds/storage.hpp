// confab seeds: where a seed's Raft state lives between restarts.
//
// `memory_store` keeps it in memory, shared with the simulator's restarts
// (a crash keeps what was saved, as a disk would; `lose_last` and `damage`
// are the simulator's storage faults). `file_store` keeps two files:
//
//   <base>.raft   the log: a 32-byte header (magic, format, the seed's
//                 identity, checksum), then records appended and
//                 fdatasynced before `save` returns:
//                 [u32 length][u8 type][body][u64 XXH3 of length+type+body]
//   <base>.state  term, vote, commit hint, learner flag, vote floor: one
//                 checksummed 64-byte block, replaced atomically (write a
//                 temporary, fsync, rename, fsync the directory)
//
// At open, storage faults are told apart as the log's shape allows:
//   - a damaged record with nothing valid after it is a torn tail (a crash
//     in mid-append): cut, as before, and the seed serves normally;
//   - a damaged record followed by a valid one, a damaged header or state
//     file, a log missing under a state file, fewer entries than the state
//     says were committed: corruption. The damaged file is copied aside
//     (<file>.damaged-<unix seconds>), the log is cut back to its last
//     verified record, and the seed starts as a learner (hard_state): it
//     neither votes nor stands until the leader has given it back what the
//     majority had committed. `report()` names the file, the offset and
//     what was kept;
//   - files that name another seed, or that cannot be read: refused.
// A fresh (empty) data directory also starts a learner: a wiped seed
// cannot vote under its old identity before it has caught up.
//
//   auto s = seeds::file_store::open("data/seed-127.0.0.1-7000", self);
//   seeds::recovered_state st = (*s)->recovered();   // (*s)->report().text says what was found
//   (*s)->save(batch);                                // durable when it returns
//
// The log grows by ~30 bytes per entry and is never compacted (snapshots
// are not implemented; docs/seeds.md).
//
// Thread: the driver's.
#pragma once

#include <memory>
#include <string>

#include "protocols/seeds/api.hpp"

namespace confab::seeds {

class log_store {
 public:
  virtual ~log_store() = default;
  virtual recovered_state recovered() const = 0;
  // Durable when it returns. On an error nothing of the batch counts: a
  // `no_space`-like error (the write was refused and taken back) may be
  // retried with the same batch; any other (a failed sync) means the seed
  // must stop.
  virtual result<void> save(const persist_batch& b) = 0;
};

class memory_store final : public log_store {
 public:
  recovered_state recovered() const override { return state_; }
  result<void> save(const persist_batch& b) override;
  std::uint64_t saves() const noexcept { return saves_; }
  const recovered_state& state() const noexcept { return state_; }
  // Storage faults for the simulator, applied while the seed is down.
  // `lose_last`: the last `n` synced entries are gone and nothing says so
  // (a file cut at a record boundary). `damage`: the log is found damaged
  // from entry `keep + 1` on (the store keeps the verified prefix and
  // marks the seed a learner, as file_store does on corruption).
  void lose_last(std::size_t n) { state_.log.resize(state_.log.size() - std::min(n, state_.log.size())); }
  void damage(std::size_t keep) {
    if (keep < state_.log.size()) state_.log.resize(keep);
    state_.hard.learner = true;
  }

 private:
  recovered_state state_;
  std::uint64_t saves_ = 0;
};

// What `file_store::open` found.
struct recovery_report {
  enum kind_t : std::uint8_t {
    fresh,      // no files: a new or wiped data directory (a learner)
    clean,      // everything verified
    torn_tail,  // a damaged final record cut (a crash in mid-append)
    corrupt,    // damage before valid data, or a damaged state file (a learner)
  } kind = fresh;
  std::string text;        // one line for the operator: file, offset, what was kept
  std::uint64_t cut_bytes = 0;
  std::string kept_aside;  // the damaged copy, when one was made
};

class file_store final : public log_store {
 public:
  // `base`: the path without the .raft/.state suffix; `identity`: the seed
  // these files must belong to.
  static result<std::unique_ptr<file_store>, problem> open(const std::string& base, std::uint64_t identity);
  ~file_store() override;
  recovered_state recovered() const override { return state_; }
  result<void> save(const persist_batch& b) override;
  const recovery_report& report() const noexcept { return report_; }

 private:
  file_store() = default;
  result<void> write_state(const hard_state& h);
  std::string base_;
  std::uint64_t identity_ = 0;
  int fd_ = -1;
  recovered_state state_;
  recovery_report report_;
};

}  // namespace confab::seeds
