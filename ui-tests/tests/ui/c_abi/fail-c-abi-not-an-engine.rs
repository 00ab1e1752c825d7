auraio_macros::c_abi!(Vec<u8>);

fn main() {}
