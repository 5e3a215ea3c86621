//! Per-request behaviour, chosen by `@` directives in the model name
//! (`m@delay=50ms@tokens=20`) or by the `x-emulator-behaviour` header, so
//! one test run can mix behaviours without reconfiguring the emulator.
//!
//! Parsing is strict: an unknown, duplicated, empty or malformed directive
//! is a 400, because a typo that silently fell back to "OK" would make a
//! fault-injection test pass for the wrong reason.

use std::time::Duration;

/// Upper bound for token counts, so a typo cannot make the emulator build
/// a gigabyte response.
const MAX_TOKENS_DIRECTIVE: u64 = 1_000_000;

/// Parsed directives; `None`/`false` means "not requested".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Behaviour {
    pub delay: Option<Duration>,
    pub gap: Option<Duration>,
    pub tokens: Option<u64>,
    pub silent: bool,
    pub silent_after: Option<u64>,
    pub flaky: Option<u64>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub rate_limit: Option<u64>,
    pub midstream_error: Option<u64>,
    pub reset: bool,
    pub reasoning: bool,
}

impl Behaviour {
    /// Splits `model` into its base name and directives.
    pub(crate) fn from_model(model: &str) -> Result<(&str, Behaviour), String> {
        let mut parts = model.split('@');
        let base = parts.next().unwrap_or_default();
        if base.is_empty() {
            return Err(format!(
                "model `{model}` has an empty name before its directives"
            ));
        }
        let behaviour = Self::parse(parts, "model name")?;
        Ok((base, behaviour))
    }

    /// Parses the `x-emulator-behaviour` header: the same directives,
    /// separated by `@` or `,` (a leading `@` is allowed).
    pub(crate) fn from_header(value: &str) -> Result<Behaviour, String> {
        let value = value.trim();
        let value = value.strip_prefix('@').unwrap_or(value);
        if value.is_empty() {
            return Ok(Behaviour::default());
        }
        Self::parse(
            value.split([',', '@']).map(str::trim),
            "x-emulator-behaviour header",
        )
    }

    /// `other`'s directives win over `self`'s (model name over header).
    pub(crate) fn overlay(self, other: Behaviour) -> Behaviour {
        Behaviour {
            delay: other.delay.or(self.delay),
            gap: other.gap.or(self.gap),
            tokens: other.tokens.or(self.tokens),
            silent: other.silent || self.silent,
            silent_after: other.silent_after.or(self.silent_after),
            flaky: other.flaky.or(self.flaky),
            status: other.status.or(self.status),
            retry_after: other.retry_after.or(self.retry_after),
            rate_limit: other.rate_limit.or(self.rate_limit),
            midstream_error: other.midstream_error.or(self.midstream_error),
            reset: other.reset || self.reset,
            reasoning: other.reasoning || self.reasoning,
        }
    }

    fn parse<'a>(
        directives: impl Iterator<Item = &'a str>,
        source: &str,
    ) -> Result<Behaviour, String> {
        let mut b = Behaviour::default();
        let mut seen: Vec<&str> = Vec::new();
        for directive in directives {
            if directive.is_empty() {
                return Err(format!("empty directive in {source}"));
            }
            let (name, value) = match directive.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (directive, None),
            };
            if seen.contains(&name) {
                return Err(format!("directive `{name}` given twice in {source}"));
            }
            seen.push(name);
            b.apply(name, value)
                .map_err(|e| format!("directive `{directive}` in {source}: {e}"))?;
        }
        Ok(b)
    }

    fn apply(&mut self, name: &str, value: Option<&str>) -> Result<(), String> {
        match name {
            "silent" => self.silent = flag(value)?,
            "reset" => self.reset = flag(value)?,
            "reasoning" => self.reasoning = flag(value)?,
            "delay" => self.delay = Some(parse_duration(required(value)?)?),
            "gap" => self.gap = Some(parse_duration(required(value)?)?),
            "tokens" => self.tokens = Some(count(value)?),
            "silent_after" => self.silent_after = Some(count(value)?),
            "flaky" => self.flaky = Some(count(value)?),
            "rate_limit" => self.rate_limit = Some(count(value)?),
            "midstream_error" => self.midstream_error = Some(count(value)?),
            "retry_after" => self.retry_after = Some(number(required(value)?)?),
            "status" => {
                let code = number(required(value)?)?;
                match u16::try_from(code) {
                    Ok(code @ 400..=599) => self.status = Some(code),
                    _ => return Err("status must be an HTTP error code (400-599)".into()),
                }
            }
            _ => {
                return Err(
                    "unknown directive (known: delay, gap, tokens, silent, silent_after, \
                     flaky, status, retry_after, rate_limit, midstream_error, reset, reasoning)"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

fn flag(value: Option<&str>) -> Result<bool, String> {
    match value {
        None => Ok(true),
        Some(_) => Err("this directive takes no value".into()),
    }
}

fn required(value: Option<&str>) -> Result<&str, String> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err("a value is required (name=value)".into()),
    }
}

fn number(value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .map_err(|_| format!("`{value}` is not a non-negative integer"))
}

fn count(value: Option<&str>) -> Result<u64, String> {
    let n = number(required(value)?)?;
    if n > MAX_TOKENS_DIRECTIVE {
        return Err(format!("{n} is larger than {MAX_TOKENS_DIRECTIVE}"));
    }
    Ok(n)
}

/// Parses `250us`, `5ms`, `1.5s`, `2m`. A unit is mandatory: a bare `50`
/// is ambiguous and rejected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration `{text}` needs a unit (us, ms, s, m)"))?;
    let (num, unit) = text.split_at(split);
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        _ => {
            return Err(format!(
                "duration `{text}` has unknown unit `{unit}` (us, ms, s, m)"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("duration `{text}` does not start with a number"))?;
    // Cap at one day so arithmetic on it cannot overflow.
    Duration::try_from_secs_f64(value * scale)
        .ok()
        .filter(|d| *d <= Duration::from_secs(86_400))
        .ok_or_else(|| format!("duration `{text}` is out of range (max 1 day)"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn plain_model_has_no_directives() {
        let (base, b) = Behaviour::from_model("openai/gpt-4o").unwrap();
        assert_eq!(base, "openai/gpt-4o");
        assert_eq!(b, Behaviour::default());
    }

    #[test]
    fn parses_all_directives() {
        let (base, b) = Behaviour::from_model(
            "m@delay=50ms@gap=1.5s@tokens=20@silent@silent_after=3@flaky=2@status=429\
             @retry_after=7@rate_limit=1@midstream_error=4@reset@reasoning",
        )
        .unwrap();
        assert_eq!(base, "m");
        assert_eq!(
            b,
            Behaviour {
                delay: Some(Duration::from_millis(50)),
                gap: Some(Duration::from_millis(1500)),
                tokens: Some(20),
                silent: true,
                silent_after: Some(3),
                flaky: Some(2),
                status: Some(429),
                retry_after: Some(7),
                rate_limit: Some(1),
                midstream_error: Some(4),
                reset: true,
                reasoning: true,
            }
        );
    }

    #[test]
    fn rejects_bad_directives() {
        for bad in [
            "m@",
            "@delay=5ms",
            "m@@tokens=1",
            "m@nope",
            "m@delay=5",
            "m@delay=5h",
            "m@delay=ms",
            "m@delay=2000m",
            "m@tokens=-1",
            "m@tokens=x",
            "m@tokens=2000000",
            "m@tokens",
            "m@silent=1",
            "m@status=200",
            "m@status=70000",
            "m@tokens=1@tokens=2",
        ] {
            assert!(
                Behaviour::from_model(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn header_and_overlay() {
        let h = Behaviour::from_header(" @status=500, delay=1ms@tokens=3 ").unwrap();
        assert_eq!(h.status, Some(500));
        assert_eq!(h.delay, Some(Duration::from_millis(1)));
        let (_, m) = Behaviour::from_model("m@tokens=5").unwrap();
        let merged = h.overlay(m);
        assert_eq!(merged.tokens, Some(5));
        assert_eq!(merged.status, Some(500));
        assert_eq!(Behaviour::from_header("").unwrap(), Behaviour::default());
        assert!(Behaviour::from_header("bogus").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("5ms").unwrap(), Duration::from_millis(5));
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0ms").unwrap(), Duration::ZERO);
        assert!(parse_duration("1.2.3s").is_err());
    }
}
