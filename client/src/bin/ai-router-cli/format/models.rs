//! The `models` table.

use ai_router_client::proto::ListModelsResponse;

use super::table::Table;
use super::units::{human_duration, mib};
use crate::names::{backend_name, state_name};

/// Longest last-error text shown in the table; the full text is in `--json`.
/// Without a cap, one long upstream message would push every row off-screen.
const MAX_ERROR_CHARS: usize = 60;

/// Renders the model list as one row per model: id, backend, state, slots,
/// requests in flight, idle time, RSS and the last start error.
pub fn format_models(models: &ListModelsResponse) -> String {
    if models.models.is_empty() {
        return "no models\n".to_owned();
    }
    let mut table = Table::new(&[
        "ID",
        "BACKEND",
        "STATE",
        "SLOTS",
        "IN FLIGHT",
        "IDLE",
        "RSS",
        "LAST ERROR",
    ])
    .right(&[3, 4, 5, 6]);
    for m in &models.models {
        table.row(vec![
            m.id.clone(),
            backend_name(m.backend),
            if m.pinned {
                format!("{} (pinned)", state_name(m.state))
            } else {
                state_name(m.state)
            },
            m.slots.to_string(),
            m.in_flight.to_string(),
            m.idle
                .as_ref()
                .map_or_else(|| "-".to_owned(), human_duration),
            if m.rss_bytes == 0 {
                "-".to_owned()
            } else {
                mib(m.rss_bytes)
            },
            one_line(&m.last_error, MAX_ERROR_CHARS),
        ]);
    }
    table.render(0)
}

/// Collapses whitespace (errors often carry newlines from stderr) and cuts
/// to `max` characters with an ellipsis.
fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use ai_router_client::proto::{BackendKind, Duration, ModelInfo, ModelState};

    #[test]
    fn renders_rows() {
        let resp = ListModelsResponse {
            models: vec![
                ModelInfo {
                    id: "openrouter/openai/gpt-4o-mini".into(),
                    backend: BackendKind::Openrouter as i32,
                    state: ModelState::Warm as i32,
                    slots: 16,
                    in_flight: 0,
                    idle: None,
                    rss_bytes: 0,
                    last_error: String::new(),
                    pinned: false,
                },
                ModelInfo {
                    id: "tiny".into(),
                    backend: BackendKind::Local as i32,
                    state: ModelState::Warm as i32,
                    slots: 4,
                    in_flight: 1,
                    idle: Some(Duration {
                        seconds: 2,
                        nanos: 500_000_000,
                    }),
                    rss_bytes: 100 * 1024 * 1024,
                    last_error: String::new(),
                    pinned: false,
                },
                ModelInfo {
                    id: "broken".into(),
                    backend: BackendKind::Local as i32,
                    state: ModelState::Failed as i32,
                    slots: 1,
                    in_flight: 0,
                    idle: None,
                    rss_bytes: 0,
                    last_error: "llama-server exited\nwith status 1".into(),
                    pinned: false,
                },
            ],
        };
        let expected = "\
ID                             BACKEND     STATE   SLOTS  IN FLIGHT    IDLE        RSS  LAST ERROR
openrouter/openai/gpt-4o-mini  openrouter  warm       16          0       -          -
tiny                           local       warm        4          1  2.50 s  100.0 MiB
broken                         local       failed      1          0       -          -  llama-server exited with status 1
";
        let text = format_models(&resp);
        assert_eq!(text, expected, "got:\n{text}");
    }

    #[test]
    fn empty_list() {
        assert_eq!(format_models(&ListModelsResponse::default()), "no models\n");
    }

    #[test]
    fn long_errors_are_cut() {
        let cut = one_line(&"x".repeat(100), 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…'));
    }
}
