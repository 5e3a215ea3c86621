//! Reading prompts from arguments, files and stdin.

use std::io::{IsTerminal, Read};
use std::path::Path;

use ai_router_client::proto::ChatMessage;
use serde::Deserialize;

use crate::failure::CliError;

/// Reads all of stdin as UTF-8. When stdin is a terminal, says so on stderr
/// first, because otherwise the command looks hung.
pub fn read_stdin(what: &str) -> Result<String, CliError> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("reading {what} from stdin; end with Ctrl-D");
    }
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .map_err(|err| CliError::Input(format!("cannot read {what} from stdin: {err}")))?;
    Ok(text)
}

/// Reads a file as UTF-8, naming the file in the error.
pub fn read_file(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|err| CliError::Input(format!("cannot read {}: {err}", path.display())))
}

/// A prompt from `--prompt`, or stdin when it is absent or `-`. One trailing
/// newline (what `echo` and editors add) is dropped; other whitespace is the
/// caller's and is kept.
pub fn prompt(arg: Option<&str>) -> Result<String, CliError> {
    let text = match arg {
        Some(p) if p != "-" => p.to_owned(),
        _ => {
            let mut text = read_stdin("the prompt")?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            text
        }
    };
    if text.trim().is_empty() {
        return Err(CliError::Input("the prompt is empty".to_owned()));
    }
    Ok(text)
}

/// One item of batch input.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchLine {
    /// 1-based line number in the input, for error messages.
    pub line: usize,
    /// Model named on the line, if any.
    pub model: Option<String>,
    pub input: LineInput,
    /// Caller's id from a JSON line.
    pub client_request_id: Option<String>,
}

/// What a batch line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum LineInput {
    /// A plain prompt.
    Prompt(String),
    /// Chat messages.
    Messages(Vec<ChatMessage>),
}

/// The JSON form of a batch line. Unknown keys are ignored so data files can
/// carry their own bookkeeping (ids, expected answers) alongside.
#[derive(Debug, Deserialize)]
struct JsonLine {
    prompt: Option<String>,
    messages: Option<Vec<JsonMessage>>,
    model: Option<String>,
    /// Also accepted as `clientRequestId`, the name `--json` output and
    /// other proto3 JSON use.
    #[serde(alias = "clientRequestId")]
    client_request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JsonMessage {
    role: String,
    content: String,
}

/// Splits batch input into items: blank lines are skipped, a line starting
/// with `{` is a JSON object, anything else is a prompt taken verbatim
/// (minus a CR from CRLF files). The first bad line fails the whole input,
/// before anything is sent, so a typo cannot half-run a batch.
pub fn parse_batch(text: &str) -> Result<Vec<BatchLine>, CliError> {
    let mut items = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        if line.trim_start().starts_with('{') {
            items.push(parse_json_line(line, line_no)?);
        } else {
            items.push(BatchLine {
                line: line_no,
                model: None,
                input: LineInput::Prompt(line.to_owned()),
                client_request_id: None,
            });
        }
    }
    Ok(items)
}

fn parse_json_line(line: &str, line_no: usize) -> Result<BatchLine, CliError> {
    let bad = |why: String| CliError::Input(format!("line {line_no}: {why}"));
    let parsed: JsonLine =
        serde_json::from_str(line).map_err(|err| bad(format!("invalid JSON: {err}")))?;
    let input = match (parsed.prompt, parsed.messages) {
        (Some(prompt), None) => LineInput::Prompt(prompt),
        (None, Some(messages)) if !messages.is_empty() => LineInput::Messages(
            messages
                .into_iter()
                .map(|m| ChatMessage {
                    role: m.role,
                    content: m.content,
                    ..Default::default()
                })
                .collect(),
        ),
        (None, Some(_)) => return Err(bad("\"messages\" is empty".to_owned())),
        (Some(_), Some(_)) => {
            return Err(bad("give \"prompt\" or \"messages\", not both".to_owned()));
        }
        (None, None) => return Err(bad("needs a \"prompt\" (or \"messages\")".to_owned())),
    };
    Ok(BatchLine {
        line: line_no,
        model: parsed.model.filter(|m| !m.is_empty()),
        input,
        client_request_id: parsed.client_request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_json_lines() {
        let text = "first prompt\n\n   \r\n{\"prompt\": \"second\", \"model\": \"big\", \"id\": 7}\r\nthird\r\n\
                    {\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"client_request_id\": \"r4\"}\n";
        let items = parse_batch(text).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].input, LineInput::Prompt("first prompt".into()));
        assert_eq!(items[0].line, 1);
        assert_eq!(items[1].model.as_deref(), Some("big"));
        assert_eq!(items[1].input, LineInput::Prompt("second".into()));
        assert_eq!(items[1].line, 4);
        assert_eq!(items[2].input, LineInput::Prompt("third".into()));
        assert_eq!(items[3].client_request_id.as_deref(), Some("r4"));
        assert!(matches!(&items[3].input, LineInput::Messages(m) if m.len() == 1));
    }

    #[test]
    fn bad_json_lines_name_the_line() {
        for (text, needle) in [
            ("ok\n{not json\n", "line 2: invalid JSON"),
            ("{\"model\": \"m\"}", "line 1: needs a \"prompt\""),
            ("{\"prompt\": \"a\", \"messages\": []}", "not both"),
            ("{\"messages\": []}", "empty"),
            ("[1, 2]\n{\"prompt\": 3}", "line 2: invalid JSON"),
        ] {
            let err = parse_batch(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn empty_input_gives_no_items() {
        assert!(parse_batch("\n \n\t\n").unwrap().is_empty());
        assert!(parse_batch("").unwrap().is_empty());
    }

    #[test]
    fn prompt_argument_is_used_verbatim() {
        assert_eq!(prompt(Some(" hi \n")).unwrap(), " hi \n");
        assert!(prompt(Some("  ")).is_err());
    }
}
