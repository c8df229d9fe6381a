"""Villages: the villages or communities the club works in, and the groups (组) within
them; residents, needs and events each name one."""
