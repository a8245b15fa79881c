package metrics

// ClassWorkerLost is the error class (ErrorData.Type, so the counter
// ErrorCounterPrefix+ClassWorkerLost) of the samples a fleet worker had in
// flight when it was lost: they count failed, and the run's load was not
// delivered (the verdict's load check says so). A class, not a metric name:
// it lives outside the dictionary's file.
const ClassWorkerLost = "worker_lost"
