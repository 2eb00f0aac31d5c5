/** The fleet's process: serves ./service.ts to the parent (src/live/run.ts) over IPC. */
import { serveParent } from '../process.js';
import { fleetService } from './service.js';

serveParent(fleetService());
