use cosmwasm_std::StdResult;

/// Page size when a query gives none.
pub const DEFAULT_LIMIT: u32 = 10;
/// Largest page any listing returns, whatever the query asks for.
pub const MAX_LIMIT: u32 = 100;

/// The page size a listing uses for a requested `limit`.
pub fn page_size(limit: Option<u32>) -> usize {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize
}

/// The values of the first page of a storage range (keys dropped).
pub fn collect_page<K, V: Into<R>, R>(
    range: impl Iterator<Item = StdResult<(K, V)>>,
    limit: Option<u32>,
) -> StdResult<Vec<R>> {
    range
        .take(page_size(limit))
        .map(|item| item.map(|(_, value)| value.into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_defaulted_and_capped() {
        assert_eq!(page_size(None), 10);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(50)), 50);
        assert_eq!(page_size(Some(u32::MAX)), 100);
    }
}
