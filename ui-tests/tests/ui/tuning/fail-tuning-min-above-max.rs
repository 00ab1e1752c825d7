auraio::tuning! {
    pub Broken { MIN_IN_FLIGHT = 64, MAX_IN_FLIGHT = 16 }
}

fn main() {}
