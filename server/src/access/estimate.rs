//! The prompt-token estimate charged to the tokens-per-minute limit before
//! a call runs (the exact count is known only when the upstream answers).
//! About four bytes per token for English text, plus a few tokens of chat
//! framing per message, the usual rule of thumb for BPE tokenizers.

use crate::domain::ChatMessage;

/// Framing tokens per chat message (role markers, separators).
const PER_MESSAGE: u32 = 4;

/// Estimated prompt tokens of a conversation.
pub fn prompt_tokens(messages: &[ChatMessage]) -> u32 {
    messages
        .iter()
        .map(|m| {
            (m.content.len() as u32)
                .div_ceil(4)
                .saturating_add(PER_MESSAGE)
        })
        .fold(0u32, u32::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    #[test]
    fn four_bytes_a_token_plus_framing() {
        let m = |s: &str| ChatMessage::text(Role::User, s);
        assert_eq!(prompt_tokens(&[m("12345678")]), 2 + 4);
        assert_eq!(prompt_tokens(&[m("1"), m("")]), 1 + 4 + 4);
    }
}
