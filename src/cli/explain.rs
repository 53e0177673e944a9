//! `whydenied explain`: one message or file diagnosed without storing anything.

use super::*;

#[derive(Debug, Args)]
pub(super) struct ExplainArgs {
    #[command(flatten)]
    pub(super) format: FormatArg,
    /// A message to diagnose, given on the command line instead of a file.
    #[arg(long, short = 'm', value_name = "TEXT", conflicts_with = "input")]
    pub(super) message: Option<String>,
    /// A file of CloudTrail events or log lines; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub(super) input: Option<PathBuf>,
}

pub(super) fn explain(db: Option<PathBuf>, a: ExplainArgs, rules: &Rules) -> Result<i32> {
    let parser = whydenied::parse::Parser::new(rules)?;
    // The stored policies, when there is a database; explain never creates one.
    let store = Store::open_existing(&db_path(db)?)?;
    let src = store
        .as_ref()
        .map(|s| s as &dyn whydenied::evaluate::gather::PolicySource);
    let mut agg = Aggregate::default();
    let mut errors = 0u64;
    let limits = whydenied::ingest::Limits::default();
    let mut problem = |p: pipeline::Problem| {
        errors += 1;
        eprintln!("whydenied: {}", out::escape(&p.to_string()));
    };
    if let Some(m) = &a.message {
        match parser.message(m) {
            Some(d) => {
                let (diag, ev) =
                    pipeline::observe(d, rules, src, "(message)", (0, 0), Default::default(), &[]);
                agg.add(diag, ev);
            }
            None => {
                eprintln!("whydenied: the message is not an access-denied error whydenied knows")
            }
        }
    } else {
        let (display, input_is_stdin) = match &a.input {
            None => ("(stdin)".to_string(), true),
            Some(p) if p.as_os_str() == "-" => ("(stdin)".to_string(), true),
            Some(p) => (p.display().to_string(), false),
        };
        let mut add = |d, e| agg.add(whydenied::suggest::suggest(d, rules, src), e);
        if input_is_stdin {
            let mut stdin = std::io::stdin().lock();
            pipeline::process_file(
                Input::Reader(&mut stdin),
                &display,
                Env {
                    parser: &parser,
                    rules,
                    src,
                    limits: &limits,
                    stored: None,
                },
                &mut add,
                &mut |_| {},
                &mut problem,
                &mut |_| {},
            );
        } else if let Some(p) = &a.input {
            pipeline::process_file(
                Input::Path(p),
                &display,
                Env {
                    parser: &parser,
                    rules,
                    src,
                    limits: &limits,
                    stored: None,
                },
                &mut add,
                &mut |_| {},
                &mut problem,
                &mut |_| {},
            );
        }
    }
    let findings = agg.into_findings();
    print(&out::render(&findings, format_of(&a.format), table_width()))?;
    Ok(if errors > 0 { 1 } else { 0 })
}
