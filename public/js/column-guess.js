// The task type the dataset form proposes for a column, from its inferred statistics (no DOM: tested in node).

/** Names that say "a quantity" (value, price, spend_total, age…): a numeric column so named is a regression target. */
const QUANTITY_NAME = /(^|[^a-z])(value|amount|price|cost|spend|revenue|income|sales|score|count|age|size|length|width|height|weight|duration|time|temp|temperature|rate|ratio|pct|percent|total|sum|mean|avg|qty|quantity|y)([^a-z]|$)/i;
/** Names that say "a category" (label, class, digit, segment_id…). */
const CATEGORY_NAME = /(^|[^a-z])(label|class|category|cat|digit|type|kind|segment|group|cluster|code|id|grade|level|rating)([^a-z]|$)/i;

/**
 * classification / binary / multilabel / regression for a column summary
 * ({ type, distinct, distinctCapped, sample, min, max, name }).
 * Numbers are regression unless they look like class codes: few distinct integers (≤ 20), and a
 * name that does not say "a quantity" (`value`, `price`, `age`…). With more than 10 distinct
 * integers the name must say "a category" (`label`, `class`, `digit`…) to be guessed classification.
 */
export function guessTaskType(c) {
  if (c.type === 'boolean') return 'binary';
  if (c.type === 'multilabel') return 'multilabel';
  if (c.type === 'categorical') return c.distinct === 2 ? 'binary' : 'classification';
  if (c.type !== 'numeric') return 'classification';
  if (c.distinct === 2 && !c.distinctCapped) return 'binary';
  const integers = (c.sample ?? []).every((v) => Number.isInteger(v));
  if (!integers || c.distinctCapped || c.distinct > 20) return 'regression';
  const name = String(c.name ?? '').replace(/([a-z])([A-Z])/g, '$1_$2');
  if (QUANTITY_NAME.test(name) && !CATEGORY_NAME.test(name)) return 'regression';
  if (c.distinct > 10 && !CATEGORY_NAME.test(name)) return 'regression';
  return 'classification';
}
