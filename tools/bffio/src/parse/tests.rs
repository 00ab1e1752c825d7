use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn no_files(p: &Path) -> std::io::Result<String> {
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{} (test)", p.display()),
    ))
}

fn file(text: &str) -> Result<Vec<Job>, ParseError> {
    parse_job_file(
        text,
        Path::new("t.fio"),
        &Job::default(),
        &mut RunOptions::default(),
        &no_env,
        &no_files,
    )
}
