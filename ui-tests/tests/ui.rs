//! Compile-time guarantees: what must not compile fails with a readable message, and the pass
//! cases make trybuild build for real (so const-evaluated checks run).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/*/pass-*.rs");
    t.compile_fail("tests/ui/lock/fail-*.rs");
    t.compile_fail("tests/ui/tuning/fail-*.rs");
    t.compile_fail("tests/ui/c_abi/fail-*.rs");
}
