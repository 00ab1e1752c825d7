auraio::tuning! {
    /// A "decrease" that grows the limit.
    pub Broken { BACKOFF_PERMILLE = 1200 }
}

fn main() {}
