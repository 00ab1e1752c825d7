auraio::tuning! {
    pub Broken { BACKOFF_PERMILLE = 0 }
}

fn main() {}
