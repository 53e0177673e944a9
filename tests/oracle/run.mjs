// Runs every simulation of a JSON file through @cloud-copilot/iam-simulate and prints one
// result per simulation: [{"id", "result"}] with result Allowed, ImplicitlyDenied or
// ExplicitlyDenied, or {"id", "error"} when the simulator refused the input.
import { readFileSync } from 'node:fs';
import { runSimulation } from '@cloud-copilot/iam-simulate';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const out = [];
for (const c of cases) {
  try {
    const r = await runSimulation(c.simulation, { simulationMode: 'Strict' });
    if (r.resultType === 'error') {
      out.push({ id: c.id, error: JSON.stringify(r.errors) });
    } else {
      out.push({ id: c.id, result: r.overallResult });
    }
  } catch (e) {
    out.push({ id: c.id, error: String(e && e.stack ? e.stack : e) });
  }
}
process.stdout.write(JSON.stringify(out));
