//! Page cursors: an organisation's `orgId`, base64url-encoded. Opaque to clients, so
//! the encoding may change; a cursor that is not one is refused without being echoed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::graphql::errors::invalid;

/// The longest cursor accepted: a cursor encodes an `orgId`, which is short.
const MAX_CURSOR: usize = 512;

/// The cursor of the organisation `org_id`.
pub fn encode_cursor(org_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(org_id)
}

/// The `orgId` a cursor holds.
pub fn decode_cursor(cursor: &str) -> async_graphql::Result<String> {
    (cursor.len() <= MAX_CURSOR)
        .then(|| URL_SAFE_NO_PAD.decode(cursor).ok())
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            invalid(
                "after",
                "not a cursor; pass a pageInfo.endCursor or an edge's cursor",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected_unechoed() {
        let id = "cooperative:COOP-2203-000029";
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        assert!(decode_cursor("***").is_err());
        let long = "A".repeat(1 << 20);
        let e = decode_cursor(&long).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
    }
}
