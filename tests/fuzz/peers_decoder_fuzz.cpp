// Fuzz target for the peers wire decoder; the invariants are
// tests/fuzz/round_trip.hpp's. Run deterministically by
// tests/protocols/peers_wire_test.cpp.
#include "protocols/peers/wire.hpp"
#include "tests/fuzz/round_trip.hpp"

CONFAB_FUZZ_WIRE_DECODER(peers)
