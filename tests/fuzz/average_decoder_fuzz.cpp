// Fuzz target for the average wire decoder; the invariants are
// tests/fuzz/round_trip.hpp's. Run deterministically by
// tests/protocols/average_test.cpp.
#include "protocols/average/wire.hpp"
#include "tests/fuzz/round_trip.hpp"

CONFAB_FUZZ_WIRE_DECODER(average)
