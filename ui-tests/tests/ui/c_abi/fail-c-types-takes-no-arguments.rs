auraio_macros::c_types!(extra);

fn main() {}
