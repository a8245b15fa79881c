package metrics

// ClassWorkerLost is the error class (ErrorData.Type, so the counter
// ErrorCounterPrefix+ClassWorkerLost) of the samples a fleet worker had in
// flight when it was lost: they count failed, and the run's load was not
// delivered (the verdict's load check says so). A class, not a metric name:
// it lives outside the dictionary's file.
const ClassWorkerLost = "worker_lost"

// ClassWorkerStopped is the error class of the error record (without a
// sample: OtherErrorCounterPrefix+ClassWorkerStopped) a fleet coordinator
// publishes when a worker stopped on its own before its share was issued
// (interrupted): the run's load was not delivered. A lost worker likewise
// leaves one of class ClassWorkerLost, also when it had nothing in flight.
const ClassWorkerStopped = "worker_stopped"
