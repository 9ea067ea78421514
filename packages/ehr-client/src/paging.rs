//! Reading a paged query to its end.

use std::future::Future;

use ehr_types::pagination::MAX_LIMIT;

use crate::error::Result;

/// Every item of a paged query, fetched `MAX_LIMIT` at a time: `fetch(start_after, limit)` returns
/// the page after the cursor `cursor` takes from the last item so far (`None` for the first).
/// Stops at the first page shorter than the limit.
pub async fn all_pages<T, C, Fut>(
    cursor: impl Fn(&T) -> C,
    mut fetch: impl FnMut(Option<C>, u32) -> Fut,
) -> Result<Vec<T>>
where
    Fut: Future<Output = Result<Vec<T>>>,
{
    let mut items: Vec<T> = Vec::new();
    loop {
        let page = fetch(items.last().map(&cursor), MAX_LIMIT).await?;
        let full = page.len() == MAX_LIMIT as usize;
        items.extend(page);
        if !full {
            return Ok(items);
        }
    }
}
