"""The studio's practice waitlist: the page that takes sign-ups, the list, writing to it, and referral partners."""
