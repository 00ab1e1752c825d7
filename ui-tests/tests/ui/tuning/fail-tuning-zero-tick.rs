auraio::tuning! {
    pub Broken { TICK_MS = 0 }
}

fn main() {}
