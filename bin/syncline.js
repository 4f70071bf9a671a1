#!/usr/bin/env node
// Syncline runs its TypeScript sources directly (Node 24 strips types), so the command is a thin shim.
import '../src/cli/main.ts';
