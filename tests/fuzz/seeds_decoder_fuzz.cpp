// Fuzz target for the seeds wire decoder; the invariants are
// tests/fuzz/round_trip.hpp's. Run deterministically by
// tests/protocols/seeds_wire_test.cpp.
#include "protocols/seeds/wire.hpp"
#include "tests/fuzz/round_trip.hpp"

CONFAB_FUZZ_WIRE_DECODER(seeds)
