import { Schema } from "effect"

/** A count or number the driver may return as a number or as a numeric string (int8, numeric). */
export const NumberLike = Schema.Union([Schema.Number, Schema.NumberFromString])
/** A nullable string. */
export const NullableString = Schema.NullOr(Schema.String)
/** A timestamp as a driver `Date` or, from a recorded JSON fixture, an ISO string. */
export const DateLike = Schema.Union([Schema.Date, Schema.DateFromString])
/** A nullable timestamp. */
export const NullableDate = Schema.NullOr(DateLike)
/** A nullable number (or numeric string). */
export const NullableNumber = Schema.NullOr(NumberLike)
