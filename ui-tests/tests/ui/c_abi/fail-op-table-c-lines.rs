// The op table's C lines are checked, every error at its line: a value taken twice, a name
// outside AURA_OP_*, a group the header does not have, a prototype of a function declared
// elsewhere, a `fn` list of the wrong length.
auraio_macros::__c_types_with_ops! {
    /// One.
    one(fd: RawFd) -> () {
        direction None;
        c AURA_OP_ONE = 0;
    }
    two(fd: RawFd) -> () {
        c AURA_OP_TWO = 0;
    }
    three() -> () {
        c OP_THREE = 1 fn ["Nowhere", "Doc.", "int aura_three(void)"];
    }
    four() -> () {
        c AURA_OP_FOUR = 2 fn ["Lifecycle", "Doc.", "void aura_destroy(aura_engine_t *engine)"];
    }
    five() -> () {
        c AURA_OP_FIVE = 3 fn ["Lifecycle", "Doc."];
    }
    six() -> () {
        c AURA_OP_SIX = 4 fn ["Lifecycle", "Doc.", "aura_engine_t *aura_create(void)"];
    }
}

fn main() {}
