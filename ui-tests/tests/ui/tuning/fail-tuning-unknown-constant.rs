auraio::tuning! {
    pub Broken { TICK_SECONDS = 1 }
}

fn main() {}
