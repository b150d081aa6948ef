//! Arti connector (filled in by the Tor work).
