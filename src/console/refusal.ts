/** Owns the console's refusal error: a request the console declines, with a message meant for the user. */

/** A request the console declines; its message is shown to the user as it is (no secrets in it). */
export class Refusal extends Error {
  override readonly name = 'Refusal';
}
