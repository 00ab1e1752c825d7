auraio_macros::c_abi!(Engine);

fn main() {}
