/**
 * One config value as a valibot schema: `parse` turns what XML or JSON gave into the typed value, or undefined when
 * it cannot; the issue then says what was `expected` (the config loader adds where and what was found).
 */
import * as v from 'valibot'

export function leaf<T>(expected: string, parse: (value: unknown) => T | undefined) {
  return v.pipe(
    v.unknown(),
    v.rawTransform<unknown, T>(({ dataset, addIssue, NEVER }) => {
      const out = parse(dataset.value)
      if (out === undefined) {
        addIssue({ message: expected, expected })
        return NEVER
      }
      return out
    }),
  )
}
