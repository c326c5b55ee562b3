import { describeCrashSafety } from './crash-suite.js';

// The crash matrix again on the blob-native index, whose commits are files and roots in the
// archive store: fewer rounds than the layouts' own files, whose matrix it repeats.
describeCrashSafety('segment', {
  archiveIndex: 'blob',
  workload: { embedded: { rounds: 6, perRound: 200 }, azure: { rounds: 3, perRound: 60 } },
});
