/** Durable replay table of received SET `jti`s per issuer (in the store's database, same transaction as the effect). */
import type Database from 'better-sqlite3';

/** Seen-jti table. */
export class JtiStore {
  private readonly insert: Database.Statement;
  private readonly prune: Database.Statement;

  constructor(db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS ssf_received_jti (iss TEXT NOT NULL, jti TEXT NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (iss, jti));
             CREATE INDEX IF NOT EXISTS ssf_received_jti_at ON ssf_received_jti(received_at);`);
    this.insert = db.prepare('INSERT OR IGNORE INTO ssf_received_jti (iss, jti, received_at) VALUES (?, ?, ?)');
    this.prune = db.prepare('DELETE FROM ssf_received_jti WHERE received_at < ?');
  }

  /** Records a jti; false when it was already seen (a replay). */
  remember(iss: string, jti: string, nowMs: number): boolean {
    return this.insert.run(iss, jti, nowMs).changes > 0;
  }

  /** Forgets jtis received before `beforeMs` (bounded table). */
  pruneBefore(beforeMs: number): number {
    return this.prune.run(beforeMs).changes;
  }
}
