/**
 * Interns identity strings (namespace + canonical labels + IP signature + named ports) into small
 * integers for decision-cache keys. Bounded: at its cap it starts over and bumps `generation`.
 * An id is only meaningful within its generation — after a restart the same number names another
 * identity — so holders of ids (memoized endpoint identities, caches keyed by ids) compare the
 * generation and `onRestart` lets the owner drop its id-keyed caches.
 */
export class IdentityInterner {
  private readonly ids = new Map<string, number>();
  private gen = 0;
  readonly max: number;

  constructor(
    max = 1_000_000,
    private readonly onRestart: () => void = () => undefined,
  ) {
    // A probe needs up to four ids (two per endpoint); all four must fit in one generation.
    this.max = Math.max(4, max);
  }

  /** Incremented each time the interner starts over. */
  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.ids.size;
  }

  intern(identity: string): number {
    let id = this.ids.get(identity);
    if (id === undefined) {
      if (this.ids.size >= this.max) {
        this.ids.clear();
        this.gen++;
        this.onRestart();
      }
      id = this.ids.size + 1;
      this.ids.set(identity, id);
    }
    return id;
  }
}
