// confab seeds: where a seed's Raft state lives between restarts.
//
// `memory_store` keeps it in memory, shared with the simulator's restarts
// (a crash keeps what was saved, as a disk would). `file_store` appends
// records to one file and fdatasyncs each batch before `save` returns, so a
// seed acknowledges nothing that is not on disk. Records are
// [u32 length][u8 type][body][u32 FNV-1a checksum]; a torn or corrupt tail
// (a crash in mid-write) is cut off at open, and anything before it kept.
//
//   auto s = seeds::file_store::open("seed-7000.log");   // result<std::unique_ptr<file_store>>
//   seeds::recovered_state st = (*s)->recovered();
//   (*s)->save(batch);                                   // durable when it returns
//
// The file grows by ~30 bytes per entry and is never compacted (snapshots
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
  // Durable when it returns; an error means the seed must stop.
  virtual result<void> save(const persist_batch& b) = 0;
};

class memory_store final : public log_store {
 public:
  recovered_state recovered() const override { return state_; }
  result<void> save(const persist_batch& b) override;
  std::uint64_t saves() const noexcept { return saves_; }
  const recovered_state& state() const noexcept { return state_; }
  // A storage fault for the simulator: the last `n` synced entries are
  // gone, as after a shortened file (the hard state stays).
  void lose_last(std::size_t n) { state_.log.resize(state_.log.size() - std::min(n, state_.log.size())); }

 private:
  recovered_state state_;
  std::uint64_t saves_ = 0;
};

class file_store final : public log_store {
 public:
  static result<std::unique_ptr<file_store>> open(const std::string& path);
  ~file_store() override;
  recovered_state recovered() const override { return state_; }
  result<void> save(const persist_batch& b) override;
  // Bytes cut off a torn tail at open (0 for a clean file).
  std::uint64_t torn_bytes() const noexcept { return torn_; }

 private:
  file_store() = default;
  int fd_ = -1;
  recovered_state state_;
  std::uint64_t torn_ = 0;
};

}  // namespace confab::seeds
