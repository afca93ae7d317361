"""The ``kubernetes`` deploy target: the Deployment and Service a team applies for a version's bento image."""
