/** The proxies' process: serves ./service.ts to the parent (src/live/run.ts) over IPC. */
import { serveParent } from '../process.js';
import { sidecarsService } from './service.js';

serveParent(sidecarsService());
