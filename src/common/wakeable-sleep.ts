/** A sleep that `wake()` can cut short: collectors poll or back off with it and stop promptly. */
export class WakeableSleep {
  private waker?: () => void;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waker = undefined;
        resolve();
      }, ms);
      this.waker = () => {
        clearTimeout(timer);
        this.waker = undefined;
        resolve();
      };
    });
  }

  /** Ends the current sleep now (no-op when not sleeping). */
  wake(): void {
    this.waker?.();
  }
}
