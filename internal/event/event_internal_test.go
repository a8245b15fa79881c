package event

import "testing"

// TestTopicType keeps the allocation-free lookup in step with the topic table.
func TestTopicType(t *testing.T) {
	for ty := SessionStarted; ty < numTypes; ty++ {
		if got := topicType([]byte(ty.Topic())); got != ty {
			t.Errorf("topicType(%q) = %v", ty.Topic(), got)
		}
	}
	if topicType([]byte("sample.bogus")) != Invalid {
		t.Error("unknown topic accepted")
	}
}
