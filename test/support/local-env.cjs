// Every test talks to local emulators only: no client may go looking for a GCE metadata server.
'use strict';
process.env.METADATA_SERVER_DETECTION = 'none';
